"""The F3548 DSS endpoints (``/dss/v1``): parse, authorise, call the service, render.

Handlers are plain functions, so FastAPI runs them (and the synchronous service calls) in its
threadpool. Every rule about entities lives in the service
(:class:`~sharedsky.services.strategic.StrategicService`);
here are only the wire formats, the per-endpoint scope groups and the status codes of
``utm.yaml``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from sharedsky.api.auth import AA, CM, CMSA, CP, SC, ScopeGroups, TokenVerifier, check_scopes
from sharedsky.api.dss.schemas import (
    UUIDV4_PATTERN,
    AirspaceConflictResponse,
    ChangeConstraintReferenceResponse,
    ChangeOperationalIntentReferenceResponse,
    DeleteSubscriptionResponse,
    ErrorReport,
    ErrorResponse,
    GetConstraintReferenceResponse,
    GetOperationalIntentReferenceResponse,
    GetSubscriptionResponse,
    PutConstraintReferenceParameters,
    PutOperationalIntentReferenceParameters,
    PutSubscriptionParameters,
    PutSubscriptionResponse,
    QueryConstraintReferenceParameters,
    QueryConstraintReferencesResponse,
    QueryOperationalIntentReferenceParameters,
    QueryOperationalIntentReferenceResponse,
    QuerySubscriptionParameters,
    QuerySubscriptionsResponse,
    SetUssAvailabilityStatusParameters,
    UssAvailabilityStatusResponse,
    constraint_to_wire,
    oir_to_wire,
    subscribers_to_wire,
    subscription_to_wire,
    uss_availability_to_wire,
)
from sharedsky.api.ratelimit import RateLimiter
from sharedsky.config import Settings
from sharedsky.errors import InvalidInput
from sharedsky.model.strategic import Caller, UssAvailabilityState
from sharedsky.services.strategic import StrategicService

__all__ = [
    "SCOPE_GROUPS",
    "authorise_caller",
    "put_operational_intent",
    "query_operational_intents",
    "router",
]

router = APIRouter(prefix="/dss/v1")


def _groups(*groups: Iterable[str]) -> ScopeGroups:
    return tuple(frozenset(g) for g in groups)


# Per operationId: any one group is enough (f3548-dss.md §1.2, the `security` of utm.yaml).
SCOPE_GROUPS: dict[str, ScopeGroups] = {
    "queryOperationalIntentReferences": _groups([SC], [CMSA]),
    "getOperationalIntentReference": _groups([SC], [CMSA]),
    "createOperationalIntentReference": _groups([SC], [SC, CP], [CMSA]),
    "updateOperationalIntentReference": _groups([SC], [SC, CP], [CMSA]),
    "deleteOperationalIntentReference": _groups([SC], [CMSA]),
    "queryConstraintReferences": _groups([CM], [CP]),
    "getConstraintReference": _groups([CM], [CP]),
    "createConstraintReference": _groups([CM]),
    "updateConstraintReference": _groups([CM]),
    "deleteConstraintReference": _groups([CM]),
    "querySubscriptions": _groups([CP], [SC]),
    "getSubscription": _groups([CP], [SC]),
    "createSubscription": _groups([CP], [SC]),
    "updateSubscription": _groups([CP], [SC]),
    "deleteSubscription": _groups([CP], [SC]),
    "makeDssReport": _groups([CM], [CP], [SC], [CMSA], [AA]),
    "setUssAvailability": _groups([AA]),
    "getUssAvailability": _groups([AA], [SC], [CMSA]),
}

_ERROR_TEXT = {
    400: "One or more input parameters were missing or invalid.",
    401: "Bearer access token was not provided, could not be decoded, or was invalid.",
    403: "The access token was decoded but does not include a scope allowed here.",
    404: "The requested entity could not be found.",
    409: "Conflict with the current state of the entity or of the airspace.",
    412: "The client is marked as Down in the DSS.",
    413: "The area is too large.",
    429: "The client issued too many requests in a short period of time.",
}


def _caller_dependency(operation_id: str) -> Callable[[Request], Awaitable[Caller]]:
    groups = SCOPE_GROUPS[operation_id]

    async def authorise(request: Request) -> Caller:
        return authorise_caller(request.app.state, request.headers.get("authorization"), groups)

    return authorise


def authorise_caller(state: Any, authorization: str | None, groups: ScopeGroups) -> Caller:
    """The caller of a request with this ``Authorization`` header, allowed by one of ``groups``
    (the app ``state`` holds the token verifier and the rate limiter): 401, 429 or 403 else."""
    verifier: TokenVerifier = state.token_verifier
    claims = verifier.verify_header(authorization)
    limiter: RateLimiter | None = state.rate_limiter
    if limiter is not None:
        limiter.check(claims.sub)
    check_scopes(claims, groups)
    return Caller(manager=claims.sub, scopes=claims.scopes)


def _operation(
    operation_id: str,
    success: int,
    response_model: type[Any],
    errors: Iterable[int],
    conflict_model: type[Any] = ErrorResponse,
) -> dict[str, Any]:
    responses: dict[int | str, dict[str, Any]] = {}
    for code in errors:
        model = conflict_model if code == 409 else ErrorResponse
        responses[code] = {"model": model, "description": _ERROR_TEXT[code]}
    security = [{"Authority": sorted(group)} for group in SCOPE_GROUPS[operation_id]]
    return {
        "operation_id": operation_id,
        "status_code": success,
        "response_model": response_model,
        "responses": responses,
        "openapi_extra": {"security": security},
    }


async def _service(request: Request) -> StrategicService:  # async: no threadpool hop
    service: StrategicService = request.app.state.service
    return service


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[StrategicService, Depends(_service)]
SettingsDep = Annotated[Settings, Depends(_settings)]
EntityIdPath = Annotated[
    str,
    Path(
        min_length=36,
        max_length=36,
        pattern=UUIDV4_PATTERN,
        description="EntityID (UUIDv4) of the entity.",
    ),
]
SubscriptionIdPath = Annotated[
    str,
    Path(
        min_length=36,
        max_length=36,
        pattern=UUIDV4_PATTERN,
        description="SubscriptionID (UUIDv4) of the subscription.",
    ),
]
OvnPath = Annotated[
    str,
    Path(min_length=16, max_length=128, description="Current OVN of the existing entity."),
]
VersionPath = Annotated[str, Path(description="Current version of the subscription.")]
UssIdPath = Annotated[str, Path(min_length=1, description="Client ID (token `sub`) of the USS.")]


def check_uss_base_url(url: str, field: str, settings: Settings) -> None:
    """A USS base URL: absolute ``https`` URL (``http`` only if allowed), no trailing ``/``."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidInput(f"{url!r} is not a URL", field) from exc
    allowed = ("https", "http") if settings.allow_http_base_urls else ("https",)
    if parts.scheme not in allowed:
        need = "http or https" if settings.allow_http_base_urls else "https"
        raise InvalidInput(f"{url!r} must be an absolute {need} URL", field)
    if not parts.netloc or not parts.hostname:
        raise InvalidInput(f"{url!r} has no host", field)
    if url.endswith("/"):
        raise InvalidInput(f"{url!r} must not end with '/'", field)
    if any(ch.isspace() for ch in url):
        raise InvalidInput(f"{url!r} must not contain white space", field)


def _json(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code)


# --- Operational intent references ---------------------------------------------------------------


@router.post(
    "/operational_intent_references/query",
    tags=["Operational intent references"],
    summary="Query the operational intent references in an area/volume/time.",
    **_operation(
        "queryOperationalIntentReferences",
        200,
        QueryOperationalIntentReferenceResponse,
        (400, 401, 403, 413, 429),
    ),
)
def query_operational_intent_references(
    *,
    body: QueryOperationalIntentReferenceParameters,
    caller: Caller = Depends(_caller_dependency("queryOperationalIntentReferences")),
    service: ServiceDep,
) -> JSONResponse:
    return _json(query_operational_intents(body, caller, service))


def query_operational_intents(
    body: QueryOperationalIntentReferenceParameters, caller: Caller, service: StrategicService
) -> dict[str, Any]:
    """The answer of ``queryOperationalIntentReferences`` (blocking: runs in a worker thread)."""
    found = service.query_operational_intents(body.to_model(), caller)
    return {"operational_intent_references": [oir_to_wire(o) for o in found]}


@router.get(
    "/operational_intent_references/{entityid}",
    tags=["Operational intent references"],
    summary="Retrieve an operational intent reference.",
    **_operation(
        "getOperationalIntentReference",
        200,
        GetOperationalIntentReferenceResponse,
        (400, 401, 403, 404, 429),
    ),
)
def get_operational_intent_reference(
    *,
    entityid: EntityIdPath,
    caller: Caller = Depends(_caller_dependency("getOperationalIntentReference")),
    service: ServiceDep,
) -> JSONResponse:
    oir = service.get_operational_intent(entityid.lower(), caller)
    return _json({"operational_intent_reference": oir_to_wire(oir)})


def put_operational_intent(
    entityid: str,
    ovn: str | None,
    body: PutOperationalIntentReferenceParameters,
    caller: Caller,
    service: StrategicService,
    settings: Settings,
) -> tuple[dict[str, Any], int]:
    """The answer and status of ``create``/``updateOperationalIntentReference`` (blocking: runs
    in a worker thread)."""
    check_uss_base_url(body.uss_base_url, "uss_base_url", settings)
    if body.new_subscription is not None:
        check_uss_base_url(
            body.new_subscription.uss_base_url, "new_subscription.uss_base_url", settings
        )
    oir, subscribers = service.put_operational_intent(
        entityid.lower(), ovn, body.to_model(), caller
    )
    return (
        {
            "subscribers": subscribers_to_wire(subscribers),
            "operational_intent_reference": oir_to_wire(oir),
        },
        201 if ovn is None else 200,
    )


@router.put(
    "/operational_intent_references/{entityid}",
    tags=["Operational intent references"],
    summary="Create an operational intent reference (201).",
    **_operation(
        "createOperationalIntentReference",
        201,
        ChangeOperationalIntentReferenceResponse,
        (400, 401, 403, 409, 412, 413, 429),
        AirspaceConflictResponse,
    ),
)
def create_operational_intent_reference(
    *,
    entityid: EntityIdPath,
    body: PutOperationalIntentReferenceParameters,
    caller: Caller = Depends(_caller_dependency("createOperationalIntentReference")),
    service: ServiceDep,
    settings: SettingsDep,
) -> JSONResponse:
    return _json(*put_operational_intent(entityid, None, body, caller, service, settings))


@router.put(
    "/operational_intent_references/{entityid}/{ovn}",
    tags=["Operational intent references"],
    summary="Update an operational intent reference, given its current OVN.",
    **_operation(
        "updateOperationalIntentReference",
        200,
        ChangeOperationalIntentReferenceResponse,
        (400, 401, 403, 409, 412, 413, 429),
        AirspaceConflictResponse,
    ),
)
def update_operational_intent_reference(
    *,
    entityid: EntityIdPath,
    ovn: OvnPath,
    body: PutOperationalIntentReferenceParameters,
    caller: Caller = Depends(_caller_dependency("updateOperationalIntentReference")),
    service: ServiceDep,
    settings: SettingsDep,
) -> JSONResponse:
    return _json(*put_operational_intent(entityid, ovn, body, caller, service, settings))


@router.delete(
    "/operational_intent_references/{entityid}/{ovn}",
    tags=["Operational intent references"],
    summary="Remove an operational intent reference, given its current OVN.",
    **_operation(
        "deleteOperationalIntentReference",
        200,
        ChangeOperationalIntentReferenceResponse,
        (400, 401, 403, 404, 409, 412, 429),
    ),
)
def delete_operational_intent_reference(
    *,
    entityid: EntityIdPath,
    ovn: OvnPath,
    caller: Caller = Depends(_caller_dependency("deleteOperationalIntentReference")),
    service: ServiceDep,
) -> JSONResponse:
    return _json(delete_operational_intent(entityid, ovn, caller, service))


def delete_operational_intent(
    entityid: str, ovn: str, caller: Caller, service: StrategicService
) -> dict[str, Any]:
    """The answer of ``deleteOperationalIntentReference`` (blocking: runs in a worker
    thread)."""
    oir, subscribers = service.delete_operational_intent(entityid.lower(), ovn, caller)
    return {
        "subscribers": subscribers_to_wire(subscribers),
        "operational_intent_reference": oir_to_wire(oir),
    }


# --- Constraint references -----------------------------------------------------------------------


@router.post(
    "/constraint_references/query",
    tags=["Constraint references"],
    summary="Query the constraint references in an area/volume/time.",
    **_operation(
        "queryConstraintReferences",
        200,
        QueryConstraintReferencesResponse,
        (400, 401, 403, 413, 429),
    ),
)
def query_constraint_references(
    *,
    body: QueryConstraintReferenceParameters,
    caller: Caller = Depends(_caller_dependency("queryConstraintReferences")),
    service: ServiceDep,
) -> JSONResponse:
    found = service.query_constraints(body.to_model(), caller)
    return _json({"constraint_references": [constraint_to_wire(c) for c in found]})


@router.get(
    "/constraint_references/{entityid}",
    tags=["Constraint references"],
    summary="Retrieve a constraint reference.",
    **_operation(
        "getConstraintReference",
        200,
        GetConstraintReferenceResponse,
        (400, 401, 403, 404, 429),
    ),
)
def get_constraint_reference(
    *,
    entityid: EntityIdPath,
    caller: Caller = Depends(_caller_dependency("getConstraintReference")),
    service: ServiceDep,
) -> JSONResponse:
    cr = service.get_constraint(entityid.lower(), caller)
    return _json({"constraint_reference": constraint_to_wire(cr)})


def _put_constraint(
    entityid: str,
    ovn: str | None,
    body: PutConstraintReferenceParameters,
    caller: Caller,
    service: StrategicService,
    settings: Settings,
) -> JSONResponse:
    check_uss_base_url(body.uss_base_url, "uss_base_url", settings)
    cr, subscribers = service.put_constraint(entityid.lower(), ovn, body.to_model(), caller)
    return _json(
        {
            "subscribers": subscribers_to_wire(subscribers),
            "constraint_reference": constraint_to_wire(cr),
        },
        201 if ovn is None else 200,
    )


@router.put(
    "/constraint_references/{entityid}",
    tags=["Constraint references"],
    summary="Create a constraint reference (201).",
    **_operation(
        "createConstraintReference",
        201,
        ChangeConstraintReferenceResponse,
        (400, 401, 403, 409, 413, 429),
        AirspaceConflictResponse,
    ),
)
def create_constraint_reference(
    *,
    entityid: EntityIdPath,
    body: PutConstraintReferenceParameters,
    caller: Caller = Depends(_caller_dependency("createConstraintReference")),
    service: ServiceDep,
    settings: SettingsDep,
) -> JSONResponse:
    return _put_constraint(entityid, None, body, caller, service, settings)


@router.put(
    "/constraint_references/{entityid}/{ovn}",
    tags=["Constraint references"],
    summary="Update a constraint reference, given its current OVN.",
    **_operation(
        "updateConstraintReference",
        200,
        ChangeConstraintReferenceResponse,
        (400, 401, 403, 409, 413, 429),
        AirspaceConflictResponse,
    ),
)
def update_constraint_reference(
    *,
    entityid: EntityIdPath,
    ovn: OvnPath,
    body: PutConstraintReferenceParameters,
    caller: Caller = Depends(_caller_dependency("updateConstraintReference")),
    service: ServiceDep,
    settings: SettingsDep,
) -> JSONResponse:
    return _put_constraint(entityid, ovn, body, caller, service, settings)


@router.delete(
    "/constraint_references/{entityid}/{ovn}",
    tags=["Constraint references"],
    summary="Remove a constraint reference, given its current OVN.",
    **_operation(
        "deleteConstraintReference",
        200,
        ChangeConstraintReferenceResponse,
        (400, 401, 403, 404, 409, 429),
    ),
)
def delete_constraint_reference(
    *,
    entityid: EntityIdPath,
    ovn: OvnPath,
    caller: Caller = Depends(_caller_dependency("deleteConstraintReference")),
    service: ServiceDep,
) -> JSONResponse:
    cr, subscribers = service.delete_constraint(entityid.lower(), ovn, caller)
    return _json(
        {
            "subscribers": subscribers_to_wire(subscribers),
            "constraint_reference": constraint_to_wire(cr),
        }
    )


# --- Subscriptions -------------------------------------------------------------------------------


@router.post(
    "/subscriptions/query",
    tags=["Subscriptions"],
    summary="Query the caller's own subscriptions in an area/volume/time.",
    **_operation("querySubscriptions", 200, QuerySubscriptionsResponse, (400, 401, 403, 413, 429)),
)
def query_subscriptions(
    *,
    body: QuerySubscriptionParameters,
    caller: Caller = Depends(_caller_dependency("querySubscriptions")),
    service: ServiceDep,
) -> JSONResponse:
    found = service.query_subscriptions(body.to_model(), caller)
    return _json({"subscriptions": [subscription_to_wire(s) for s in found]})


@router.get(
    "/subscriptions/{subscriptionid}",
    tags=["Subscriptions"],
    summary="Retrieve a subscription.",
    **_operation("getSubscription", 200, GetSubscriptionResponse, (400, 401, 403, 404, 429)),
)
def get_subscription(
    *,
    subscriptionid: SubscriptionIdPath,
    caller: Caller = Depends(_caller_dependency("getSubscription")),
    service: ServiceDep,
) -> JSONResponse:
    sub = service.get_subscription(subscriptionid.lower(), caller)
    return _json({"subscription": subscription_to_wire(sub)})


def _put_subscription(
    subscriptionid: str,
    version: str | None,
    body: PutSubscriptionParameters,
    caller: Caller,
    service: StrategicService,
    settings: Settings,
) -> JSONResponse:
    check_uss_base_url(body.uss_base_url, "uss_base_url", settings)
    sub, oirs, crs = service.put_subscription(
        subscriptionid.lower(), version, body.to_model(), caller
    )
    return _json(
        {
            "subscription": subscription_to_wire(sub),
            "operational_intent_references": [oir_to_wire(o) for o in oirs],
            "constraint_references": [constraint_to_wire(c) for c in crs],
        }
    )


@router.put(
    "/subscriptions/{subscriptionid}",
    tags=["Subscriptions"],
    summary="Create a subscription (200, as the spec says).",
    **_operation("createSubscription", 200, PutSubscriptionResponse, (400, 401, 403, 409, 429)),
)
def create_subscription(
    *,
    subscriptionid: SubscriptionIdPath,
    body: PutSubscriptionParameters,
    caller: Caller = Depends(_caller_dependency("createSubscription")),
    service: ServiceDep,
    settings: SettingsDep,
) -> JSONResponse:
    return _put_subscription(subscriptionid, None, body, caller, service, settings)


@router.put(
    "/subscriptions/{subscriptionid}/{version}",
    tags=["Subscriptions"],
    summary="Update a subscription, given its current version.",
    **_operation("updateSubscription", 200, PutSubscriptionResponse, (400, 401, 403, 409, 429)),
)
def update_subscription(
    *,
    subscriptionid: SubscriptionIdPath,
    version: VersionPath,
    body: PutSubscriptionParameters,
    caller: Caller = Depends(_caller_dependency("updateSubscription")),
    service: ServiceDep,
    settings: SettingsDep,
) -> JSONResponse:
    return _put_subscription(subscriptionid, version, body, caller, service, settings)


@router.delete(
    "/subscriptions/{subscriptionid}/{version}",
    tags=["Subscriptions"],
    summary="Remove a subscription, given its current version.",
    **_operation(
        "deleteSubscription", 200, DeleteSubscriptionResponse, (400, 401, 403, 404, 409, 429)
    ),
)
def delete_subscription(
    *,
    subscriptionid: SubscriptionIdPath,
    version: VersionPath,
    caller: Caller = Depends(_caller_dependency("deleteSubscription")),
    service: ServiceDep,
) -> JSONResponse:
    sub = service.delete_subscription(subscriptionid.lower(), version, caller)
    return _json({"subscription": subscription_to_wire(sub)})


# --- Reports and availability --------------------------------------------------------------------


@router.post(
    "/reports",
    tags=["Reports"],
    summary="Report a communication problem to the DSS (archived; 201).",
    **_operation("makeDssReport", 201, ErrorReport, (400, 401, 403, 429)),
)
def make_dss_report(
    *,
    body: ErrorReport,
    caller: Caller = Depends(_caller_dependency("makeDssReport")),
    service: ServiceDep,
) -> JSONResponse:
    report = body.model_dump(mode="json", exclude_none=True)
    report.pop("report_id", None)
    report_id = service.make_report(report, caller)
    return _json({**report, "report_id": report_id}, 201)


@router.put(
    "/uss_availability/{uss_id}",
    tags=["Availability"],
    summary="Set the availability of a USS, given its current version.",
    # 409 for an old_version that is not the current one: F3548-21 asks for it, utm.yaml's list
    # of responses for this operation lacks it (the reference DSS and uss_qualifier expect it).
    **_operation(
        "setUssAvailability", 200, UssAvailabilityStatusResponse, (400, 401, 403, 409, 429)
    ),
)
def set_uss_availability(
    *,
    uss_id: UssIdPath,
    body: SetUssAvailabilityStatusParameters,
    caller: Caller = Depends(_caller_dependency("setUssAvailability")),
    service: ServiceDep,
) -> JSONResponse:
    value = service.set_uss_availability(
        uss_id, body.old_version, UssAvailabilityState(body.availability), caller
    )
    return _json(uss_availability_to_wire(value))


@router.get(
    "/uss_availability/{uss_id}",
    tags=["Availability"],
    summary="Get the availability of a USS.",
    **_operation("getUssAvailability", 200, UssAvailabilityStatusResponse, (400, 401, 403, 429)),
)
def get_uss_availability(
    *,
    uss_id: UssIdPath,
    caller: Caller = Depends(_caller_dependency("getUssAvailability")),
    service: ServiceDep,
) -> JSONResponse:
    return _json(uss_availability_to_wire(service.get_uss_availability(uss_id, caller)))


# --- An empty OVN or version (a trailing '/') is a bad request, not an unknown path ------------


def _empty_path_segment(name: str) -> Callable[[], JSONResponse]:
    def refuse() -> JSONResponse:
        raise InvalidInput("must not be empty", f"{name} (path parameter)")

    return refuse


for _path, _name in (
    ("/operational_intent_references/{entityid}/", "ovn"),
    ("/constraint_references/{entityid}/", "ovn"),
    ("/subscriptions/{subscriptionid}/", "version"),
):
    router.add_api_route(
        _path, _empty_path_segment(_name), methods=["PUT", "DELETE"], include_in_schema=False
    )
