"""The typer CLI: parse, call one core function, format. Nothing else lives here."""
