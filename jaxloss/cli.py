"""The ``jaxloss`` console command.

Sub-commands::

    jaxloss list [--aliases]        the catalog (canonical names, or every name get() resolves)
    jaxloss demo [args...]          the Keras tutorial table: examples/seed_experiments.py
    jaxloss sweep [args...]         the vectorised sweep: examples/sweep.py
    jaxloss tour [args...]          the regression-loss tour: examples/tour.py
    jaxloss bench [args...]         the benchmarks: bench/run.py (from a source checkout)

``demo``, ``sweep``, ``tour`` and ``bench`` run scripts of the source tree (they are not part of
the installed package); arguments after the sub-command are passed to the script unchanged, e.g.
``jaxloss demo --seeds 5 --json table.json``.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys

_SCRIPTS = {
    "demo": ("examples", "seed_experiments.py"),
    "sweep": ("examples", "sweep.py"),
    "tour": ("examples", "tour.py"),
    "bench": ("bench", "run.py"),
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _writable(path: str, *, is_dir: bool) -> str:
    """``path`` can be written (a file whose folder can be created, or a folder)."""
    path = os.path.abspath(path)
    if is_dir and os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path} exists and is not a directory")
    if not is_dir and os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path} is a directory, expected a file path")
    probe_dir = path if is_dir else os.path.dirname(path)
    while not os.path.exists(probe_dir):
        probe_dir = os.path.dirname(probe_dir)
    if not os.path.isdir(probe_dir):
        raise argparse.ArgumentTypeError(f"cannot create {path}: {probe_dir} is not a directory")
    try:
        import tempfile

        with tempfile.TemporaryFile(dir=probe_dir):
            pass
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def _out_dir(text: str) -> str:
    _writable(text, is_dir=True)
    return text


def _out_file(text: str) -> str:
    _writable(text, is_dir=False)
    return text


# options of the scripts checked here, before the script runs (argparse errors, exit status 2)
_CHECKED_OPTIONS = {
    "demo": {
        "--seeds": _positive_int,
        "--epochs": _positive_int,
        "--json": _out_file,
        "--out": _out_dir,
    },
    "sweep": {"--epochs": _positive_int, "--out": _out_dir},
    "tour": {"--out": _out_dir},
    "bench": {"--reps": _positive_int, "--out": _out_dir},
}


def _validate(command: str, argv: list[str]) -> None:
    """argparse errors (usage + message, exit 2) for bad values of the scripts' common options."""
    parser = argparse.ArgumentParser(prog=f"jaxloss {command}", add_help=False)
    for flag, kind in _CHECKED_OPTIONS.get(command, {}).items():
        parser.add_argument(flag, type=kind)
    parser.parse_known_args(argv)


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_script(command: str, argv: list[str]) -> int:
    folder, name = _SCRIPTS[command]
    path = os.path.join(_repo_root(), folder, name)
    if not os.path.exists(path):
        print(
            f"jaxloss {command}: needs the source tree ({folder}/{name} is not part of the "
            f"installed package); run it from a source checkout",
            file=sys.stderr,
        )
        return 2
    _validate(command, argv)
    try:
        namespace = runpy.run_path(path, run_name="jaxloss_cli")
    except ModuleNotFoundError as e:  # e.g. matplotlib: the examples extra is not installed
        print(
            f"jaxloss {command}: {folder}/{name} needs {e.name!r}, which is not installed; "
            f'install the extras with: pip install -e ".[examples]"',
            file=sys.stderr,
        )
        return 2
    main = namespace.get("main")
    if main is None:
        print(f"jaxloss {command}: {folder}/{name} has no main()", file=sys.stderr)
        return 2
    old_argv = sys.argv
    sys.argv = [path] + list(argv)
    try:
        import inspect

        takes_argv = bool(inspect.signature(main).parameters)
        status = main(list(argv)) if takes_argv else main()  # else main() reads sys.argv itself
    finally:
        sys.argv = old_argv
    # scripts return None / 0 / an exit status, or (bench) their results: success unless an int
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


def _list(args) -> int:
    from ._registry import get, list_losses

    if args.aliases:
        for name in list_losses(aliases=True):
            fn = get(name)
            canonical = getattr(fn, "canonical", fn).__name__
            extra = f" {fn.bound_options}" if hasattr(fn, "bound_options") else ""
            print(name if name == canonical and not extra else f"{name} -> {canonical}{extra}")
    else:
        for name in list_losses():
            doc = (get(name).__doc__ or "").strip().splitlines()
            print(f"{name:36} {doc[0] if doc else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="jaxloss", description="JAX loss functions: catalog and examples."
    )
    sub = parser.add_subparsers(dest="command", metavar="{list,demo,sweep,tour,bench}")
    p_list = sub.add_parser("list", help="list the losses")
    p_list.add_argument("--aliases", action="store_true", help="every name jaxloss.get resolves")
    for name, help_ in (
        ("demo", "the Keras tutorial table (examples/seed_experiments.py)"),
        ("sweep", "the vectorised sweep (examples/sweep.py)"),
        ("tour", "the regression-loss tour (examples/tour.py)"),
        ("bench", "the benchmarks (bench/run.py)"),
    ):
        sub.add_parser(name, help=help_, add_help=False)
    if argv and argv[0] in _SCRIPTS:
        return _run_script(argv[0], argv[1:])
    args = parser.parse_args(argv)
    if args.command == "list":
        try:
            return _list(args)
        except BrokenPipeError:  # `jaxloss list | head`
            sys.stderr.close()
            return 0
    parser.print_help()
    return 0 if args.command is None and not argv else 2


if __name__ == "__main__":
    sys.exit(main())
