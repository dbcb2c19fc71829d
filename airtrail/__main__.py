from airtrail.cli import main

main()
