"""Command groups whose commands are built when first used.

Typer builds a group's every command (reading each function's signature and annotations) before
running one, and a command's module must be imported for that: `benefits calc` would pay for the
ledger's, the server's and the simulation's commands. A group made with `lazy_group` names such
commands by "module:attribute" of the `typer.Typer` that defines them, and imports and builds one
only when it is run or listed (`--help`, completion). What is built is what typer builds from that
Typer, so help, usage and errors are the same.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping

import typer.main
from typer.core import TyperGroup


class _Commands(MutableMapping):
    """A group's commands by name, in order: those built already, then those named by where they
    are defined, each built the first time it is read."""

    def __init__(self, built: Mapping, where: Mapping[str, str]):
        self._built = dict(built)
        self._where = {name: at for name, at in where.items() if name not in self._built}
        self._order = [*self._built, *self._where]

    def __getitem__(self, name: str):
        if name not in self._built:
            module, _, attribute = self._where[name].partition(":")  # KeyError: no such command
            self._built[name] = typer.main.get_command(getattr(importlib.import_module(module), attribute))
        return self._built[name]

    def __setitem__(self, name: str, command) -> None:
        if name not in self._order:
            self._order.append(name)
        self._where.pop(name, None)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._order:
            raise KeyError(name)
        self._order.remove(name)
        self._where.pop(name, None)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in self._where


def lazy_group(commands: dict[str, str]) -> type[TyperGroup]:
    """A group class for `typer.Typer(cls=...)`: the Typer's own commands, then `commands` (name ->
    "module:attribute" of a `typer.Typer` holding that one command, or a group), listed in this
    order and built when first used. Each such Typer is made with add_completion=False."""

    class LazyGroup(TyperGroup):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.commands = _Commands(self.commands, commands)

    return LazyGroup
