from sharedsky.cli import main

main()
