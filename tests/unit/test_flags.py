"""One table of flags (queuectl/cli/flags.py) behind both front doors: every form the lean
parser accepts parses to the same values in the typer app, and the typer commands of the lean
commands have exactly the table's options."""

import pytest
from typer.main import get_command

from queuectl.cli import lean
from queuectl.cli.app import build_app
from queuectl.cli.flags import FLAGS, INT, MANY, SWITCH, TEXT

ROOT = get_command(build_app())
SAMPLE = {TEXT: "5m", INT: "-7", MANY: "A=1"}  # a negative number: a value, never a flag
POSITIONAL = {"enqueue": ["echo hi"]}
FORMS = [(command, spec, form) for command, flags in FLAGS.items()
         for spec in flags for form in spec.forms]


def typer_params(command: str, words: list[str]) -> dict:
    """What the typer app hands the command function for `words` (given values only)."""
    node = ROOT
    for name in command.split():
        node = node.commands[name]
    ctx = node.make_context(command, list(words))
    given = {k: v for k, v in ctx.params.items() if v not in (None, False, (), [])}
    return {k: list(v) if isinstance(v, tuple | list) else v for k, v in given.items()}


def lean_params(args: list[str]) -> dict:
    parsed = lean.parse(args)
    assert parsed is not None, f"the lean parser declined {args}"
    return {k: v for k, v in parsed[1].items() if k != "db"}


@pytest.mark.parametrize(("command", "spec", "form"), FORMS,
                         ids=[f"{c}:{form}" for c, _, form in FORMS])
def test_every_form_means_the_same_to_both_doors(command, spec, form):
    words = [form, *([] if spec.kind == SWITCH else [SAMPLE[spec.kind]]),
             *POSITIONAL.get(command, [])]
    expected = typer_params(command, words)
    assert spec.name in expected
    assert lean_params([*command.split(), *words]) == expected


@pytest.mark.parametrize("command", FLAGS)
def test_all_flags_at_once_mean_the_same_to_both_doors(command):
    words = [*POSITIONAL.get(command, [])]
    for spec in FLAGS[command]:
        if spec.name not in ("json_out", "quiet"):  # they exclude each other, in the core
            words += [spec.forms[-1], *([] if spec.kind == SWITCH else [SAMPLE[spec.kind]])]
    assert lean_params([*command.split(), *words]) == typer_params(command, words)


def test_a_repeatable_flag_adds_up_in_both_doors():
    words = ["--env", "A=1", "--after", "x", "--env", "B=2", "--after", "y", "true"]
    assert lean_params(["enqueue", *words]) == typer_params("enqueue", words)
    assert lean_params(["enqueue", *words])["env"] == ["A=1", "B=2"]


@pytest.mark.parametrize("command", FLAGS)
def test_the_typer_command_has_exactly_the_tables_options(command):
    node = ROOT
    for name in command.split():
        node = node.commands[name]
    options = {p.name: p for p in node.params if p.param_type_name == "option" and p.name != "help"}
    assert set(options) == {spec.name for spec in FLAGS[command]}
    for spec in FLAGS[command]:
        param = options[spec.name]
        assert set(param.opts) | set(param.secondary_opts) == set(spec.forms)
        annotation = param.type_descriptor.annotation
        assert annotation == {SWITCH: bool, INT: int, TEXT: str, MANY: list[str]}[spec.kind], spec.name
