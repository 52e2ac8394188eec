"""Shell completion through the installed executable: typer's own scripts and protocol, in a
real bash (and fish when installed), completing commands, flags, states, config keys and ids."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import QUEUECTL

BIN = str(Path(QUEUECTL).parent)


def in_shell(q, shell: str, script: str) -> list[str]:
    """Run `script` in `shell` with queuectl on PATH; its stdout lines."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    env = {**q.env, "PATH": f"{BIN}{os.pathsep}{q.env.get('PATH', '')}"}
    cp = subprocess.run([shell, "-c", script], capture_output=True, text=True, env=env,
                        cwd=q.tmp, timeout=60)
    assert cp.returncode == 0 and "Traceback" not in cp.stderr, cp
    return cp.stdout.splitlines()


def bash_complete(q, line: str) -> list[str]:
    """What bash offers for `line` with the script of `queuectl --show-completion` loaded."""
    words = line.split(" ")
    script = ("source <(queuectl --show-completion); "
              f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}; "
              '_queuectl_completion queuectl; printf "%s\\n" "${COMPREPLY[@]}"')
    return [w for w in in_shell(q, "bash", script) if w]


def test_bash_completes_commands_flags_states_and_config_keys(q):
    assert bash_complete(q, "queuectl li") == ["list"]
    assert set(bash_complete(q, "queuectl worker ")) >= {"start", "stop", "list"}
    assert {"-p", "--priority", "-d", "--quiet"} <= set(bash_complete(q, "queuectl enqueue -"))
    assert bash_complete(q, "queuectl list --state ") == [
        "pending", "processing", "completed", "failed", "dead"]
    assert bash_complete(q, "queuectl list -s d") == ["dead"]
    assert bash_complete(q, "queuectl config set back") == ["backoff-base", "backoff-max"]


def test_bash_completes_job_ids(q):
    q.enqueue({"id": "dead-one", "command": "exit 1", "max_retries": 0})
    q.drain()
    q.enqueue({"id": "waiting-one", "command": "true", "run_at": "2099-01-01T00:00:00Z"})
    assert bash_complete(q, "queuectl dlq retry ") == ["dead-one"]
    assert bash_complete(q, "queuectl logs ") == ["dead-one", "waiting-one"]
    assert bash_complete(q, "queuectl show w") == ["waiting-one"]


@pytest.mark.sqlite_only
def test_completing_an_id_does_not_create_the_store(q):
    assert bash_complete(q, "queuectl show ") == []
    assert not q.store_exists()


def test_fish_completes_through_its_script(q):
    script = "queuectl --show-completion | source; complete -C 'queuectl list --state d'"
    assert in_shell(q, "fish", script) == ["dead"]


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o default -F"),
                                                ("zsh", "compdef"), ("fish", "complete --command")])
def test_show_completion_prints_the_script_of_the_calling_shell(q, shell, marker):
    # `; true`: a shell would exec a lone command, and queuectl would see the caller's shell
    assert marker in "\n".join(in_shell(q, shell, "queuectl --show-completion; true"))


def test_zsh_protocol_completes_states(q):
    cp = q.run(env={**q.env, "_QUEUECTL_COMPLETE": "complete_zsh",
                    "_TYPER_COMPLETE_ARGS": "queuectl list --state d"})
    assert cp.returncode == 0 and "dead" in cp.stdout and "pending" not in cp.stdout, cp
