"""The ``avs`` command: the operator CLI and the all-in-one local runner."""

from __future__ import annotations

import importlib
from typing import ClassVar

import click

from avs_cli import indexer_commands, sync_commands
from avs_cli.local import local
from avs_shared.errors import ConfigurationError


class AvsGroup(click.Group):
    """Loads heavy commands on first use, and turns :class:`ConfigurationError` (whose
    message says what to do) into that message and exit code 2 instead of a traceback."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {"run": ("avs_cli.run", "run")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attr = self.lazy[cmd_name]
            try:
                command = getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                return _unavailable(cmd_name, exc)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            click.echo(f"avs: {exc}", err=True)
            ctx.exit(2)


def _unavailable(name: str, exc: ImportError) -> click.Command:
    """A command whose code cannot be imported: ``--help`` still works, running it says why."""

    def fail() -> None:
        raise ConfigurationError(f"`avs {name}` cannot load: {exc}; reinstall with `make venv`")

    return click.Command(name, callback=fail, help=f"(unavailable: {exc})")


@click.group(cls=AvsGroup)
@click.version_option(package_name="avs-cli")
def cli() -> None:
    """anime-vector-service: run it locally, inspect it, operate it.

    \b
    avs run           everything in one process (what `make run` does)
    avs local up      start moto + redis-server and provision every resource
    avs local status  every resource, queue depths, what is down and how to fix it
    avs local down    stop what `avs local up` started
    avs bootstrap     load an enriched database (resumable, progress bar)
    avs snapshot      stream the catalogue to S3; avs restore rebuilds from one
    avs reindex       re-embed everything after a model change
    avs dev generate  synthetic data for scale tests
    """


cli.add_command(local)
indexer_commands.register(cli)
sync_commands.register(cli)
AvsGroup.lazy["dlq"] = ("avs_cli.dlq_commands", "dlq_group")  # avs dlq list|show|replay


def main() -> None:
    cli(prog_name="avs")
