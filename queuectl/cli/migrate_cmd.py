"""migrate-store --from URL --to URL: copy all jobs, attempts with output, the config, queue
settings, schedules and `after` waits."""

import sys

import typer

from .output import print_json


def register(app: typer.Typer) -> None:
    app.command("migrate-store")(migrate_store)


def migrate_store(
    source_url: str = typer.Option(..., "--from", help="Store to copy from (path or URL)."),
    target_url: str = typer.Option(..., "--to", help="Store to copy into; must hold no job."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Copy every job, its attempt history and output, the config, queue settings, schedules
    and dependencies into an empty store."""
    import asyncio

    from ..settings import Settings
    from ..store import open_store
    from ..store.postgres_copy import copy_store
    from ..timeutil import now_ms

    def progress(done: int) -> None:
        sys.stderr.write(f"copied {done} jobs...\n")

    async def main():
        source = await open_store(source_url)
        try:
            target = await open_store(target_url)
            try:
                settings = Settings.from_stored(await source.get_config())
                copied = await copy_store(source, target, lease_s=settings.worker_lease,
                                          now=now_ms(), progress=progress)
                return copied, source.url, target.url
            finally:
                await target.close()
        finally:
            await source.close()

    copied, src, dst = asyncio.run(main())
    if json_out:
        print_json({"from": src, "to": dst, "jobs": copied.jobs, "attempts": copied.attempts,
                    "config": copied.config})
    else:
        sys.stdout.write(f"copied {copied.jobs} jobs, {copied.attempts} attempts and "
                         f"{copied.config} config keys from {src} to {dst}\n")
