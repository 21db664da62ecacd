"""The checks a sweep config's reader shares: a key must be known (close matches suggested) and a value of
the right YAML type; either failure is a :class:`ConfigError` that names the key."""

from __future__ import annotations

import difflib


class ConfigError(ValueError):
    """A bad key or value in a sweep config; the message names the key."""


def suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    return f"{hint}valid keys: {', '.join(valid)}"


def check_keys(mapping, valid, where: str) -> None:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where} must be a mapping (key: value), got {type(mapping).__name__}")
    for key in mapping:
        if key not in valid:
            name = f"{where}.{key}" if where else key
            raise ConfigError(f"unknown key {name}; {suggest(str(key), valid)}")


def check_type(value, types, where: str):
    types = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        words = {int: "an integer", float: "a number", str: "a string", type(None): "null"}
        words[bool] = "true or false"
        kinds = [t for t in types if not (t is int and float in types)]  # int or float: a number
        names = " or ".join(words.get(t, t.__name__) for t in kinds)
        raise ConfigError(f"{where} must be {names}, got {value!r}")
    return value
