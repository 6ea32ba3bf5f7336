from fgform.cli import main

main()
