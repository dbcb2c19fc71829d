import typer

app = typer.Typer(help="Register kits and manage their broker credentials.", no_args_is_help=True)
