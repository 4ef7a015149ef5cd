"""The ``zssar`` command line (also ``python -m zssar``). It calls the same functions as the notebooks."""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .commands import COMMANDS
from .errors import ZssarError


def _modules():
    return {name: importlib.import_module(f"zssar.commands.{name}") for name in COMMANDS}


def _parser(modules) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zssar", description="Zero-shot skeleton-based action recognition.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, module in modules.items():
        q = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(q)
        q.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _quiet() -> None:
    """No progress bars from the libraries either (the text encoder's weight loading prints one)."""
    import os

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TQDM_DISABLE"] = "1"
    try:
        from transformers.utils import logging

        logging.disable_progress_bar()
    except ImportError:
        pass


def _check_processes(command: str) -> None:
    """Only ``zssar pretrain`` knows how to share its work between torchrun's processes."""
    from .backbones.distributed import world_size_from_env

    if world_size_from_env() > 1 and command != "pretrain":
        from .errors import InvalidConfig

        raise InvalidConfig(f"zssar {command} runs in one process: start it without torchrun. Only zssar pretrain "
                            "trains with several (torchrun --nproc_per_node=N -m zssar pretrain ...); a later "
                            "one-process zssar run reuses the backbone it cached")


def main(argv: list[str] | None = None) -> int:
    modules = _modules()
    args = _parser(modules).parse_args(argv)
    module = modules[args.command]
    if getattr(args, "quiet", False):
        _quiet()
    try:
        _check_processes(args.command)
        out = module.main(args)
    except ZssarError as exc:
        print(f"zssar: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    from .backbones.distributed import is_main_process

    if not is_main_process():  # under torchrun every rank returns the same result; rank 0 prints it
        return 0
    if args.json or not hasattr(module, "human"):
        from .results import json_default

        print(json.dumps(out, indent=2, default=json_default))
    else:
        module.human(out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
