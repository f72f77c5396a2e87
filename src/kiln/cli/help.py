"""Help pages that read like ordinary command-line help: `--out PATH`, `DATA TEXT`, flags bare.

Typer's help writes Python types (`<bool>` on a plain flag, `<list[str]>`, `<str>`) and wraps
a required argument in braces in the usage line (`kiln train [OPTIONS] {data}`). People
read help as Click, argparse and git write it: an argument by its name in capitals, an
option by the kind of value it takes (TEXT, INTEGER, FLOAT, PATH), nothing after a flag, and
"repeatable" on an option that may be given several times. `ReadableGroup` makes every
command under it (sub-groups too) read so, whichever file declared the command: it touches
only how parameters are shown, never how they are parsed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

LABELS: dict[Any, str] = {str: "TEXT", int: "INTEGER", float: "FLOAT", Path: "PATH", bool: "BOOLEAN"}
REPEATABLE = "Repeatable."


def _label(param: Any) -> str:
    descriptor = param.type_descriptor
    if descriptor.is_choice and descriptor.choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in descriptor.choices) + "]"
    if descriptor.is_path:
        return "PATH"
    annotation = descriptor.annotation
    if descriptor.is_list:
        element = (getattr(annotation, "__args__", None) or (str,))[0]
        return LABELS.get(element, "TEXT")
    return LABELS.get(annotation, "TEXT")


class ReadableArgument(TyperArgument):
    """An argument shown by its name in capitals, in the usage line and its panel alike."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return _label(self)

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return [name + ("..." if self.nargs != 1 else "")]


def _readable_option(option: TyperOption) -> None:
    if option.metavar is not None:
        return  # already readable (or deliberately named)
    if getattr(option, "is_flag", False):
        option.metavar = ""
        return
    option.metavar = _label(option)
    if getattr(option, "multiple", False) and "repeat" not in (option.help or "").lower():
        option.help = f"{option.help} {REPEATABLE}" if option.help else REPEATABLE


def make_readable(command: Any, ctx: Any) -> None:
    """Show `command`'s parameters (its help option included), and its sub-commands', as people read help."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if isinstance(param, TyperOption):
            _readable_option(param)
        elif type(param) is TyperArgument:
            if param.metavar is None:
                param.metavar = param.name.upper()
            param.__class__ = ReadableArgument  # same fields, readable display only
    for sub in getattr(command, "commands", {}).values():
        make_readable(sub, ctx)


class ReadableGroup(TyperGroup):
    """The `kiln` group: every command's help reads like ordinary CLI help (module docstring)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            make_readable(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        make_readable(self, ctx)
        super().format_help(ctx, formatter)


def show_version(value: bool) -> None:
    """`kiln --version`: the installed distribution's version, then exit."""
    if value:
        from importlib.metadata import version

        typer.echo(f"kiln {version('kiln-ml')}")
        raise typer.Exit()


__all__ = ["ReadableArgument", "ReadableGroup", "make_readable", "show_version"]
