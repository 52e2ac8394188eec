"""config list | get | set."""

import sys

import typer

from .completion import complete_config_key
from .context import reading_store, with_store
from .output import print_json, print_table

app = typer.Typer(no_args_is_help=True)


def _effective(ctx: typer.Context) -> tuple[dict, dict[str, str]]:
    from ..settings import Settings

    stored = reading_store(ctx, lambda store: store.get_config())
    return Settings.from_stored(stored), stored


@app.command("list")
def list_config(ctx: typer.Context,
                json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout.")) -> None:
    """Every key with its value."""
    from ..settings import KEYS, format_value

    settings, stored = _effective(ctx)
    if json_out:
        print_json({key: settings.value(key) for key in KEYS})
        return
    print_table(["KEY", "VALUE", "SOURCE", "MEANING"],
                [[k, format_value(settings.value(k)), "set" if k in stored else "default",
                  spec.help] for k, spec in KEYS.items()])


@app.command()
def get(ctx: typer.Context, key: str = typer.Argument(None, help="A key; all when absent.",
                                                     autocompletion=complete_config_key)) -> None:
    """Print a key's bare value (all keys as key=value without KEY)."""
    from ..settings import KEYS, canonical_key, format_value

    keys = [canonical_key(key)] if key is not None else list(KEYS)
    settings, _ = _effective(ctx)
    if key is not None:
        sys.stdout.write(format_value(settings.value(keys[0])) + "\n")
    else:
        sys.stdout.write("".join(f"{k}={format_value(settings.value(k))}\n" for k in keys))


@app.command("set", context_settings={"ignore_unknown_options": True})  # "-1" is a value
def set_(ctx: typer.Context,
         key: str = typer.Argument(..., autocompletion=complete_config_key),
         value: str = typer.Argument(...)) -> None:
    """Persist a value in the store. Time-valued keys take durations: `backoff-max 2h`."""
    from ..settings import validate_setting

    name, text = validate_setting(key, value)
    with_store(ctx, lambda store: store.set_config(name, text))
    sys.stdout.write(f"{name}={text}\n")
