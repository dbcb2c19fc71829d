import typer

app = typer.Typer(help="Run the local Mosquitto + InfluxDB stack.", no_args_is_help=True)
