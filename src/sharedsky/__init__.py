"""sharedsky: an open, neutral airspace deconfliction service.

Importing the package touches no disk, network or environment. The public entry points are
the subpackages: :mod:`sharedsky.tactical` (conflict engine), :mod:`sharedsky.api`
(``create_app``) and :mod:`sharedsky.cli` (the ``sharedsky`` command).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
