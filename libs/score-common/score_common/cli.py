"""`score-service <name>`: run one service with its configuration from the environment.

The same command runs a service on a developer's machine, in docker-compose and in Kubernetes.
"""
from __future__ import annotations

import argparse
import importlib
import sys


def service_class(name: str):
    module = importlib.import_module(f"score_{name}.service")
    return module.SERVICE


def main(argv=None) -> int:
    from score_common.config import ENV_VARS, SERVICES, ConfigError, service_config

    parser = argparse.ArgumentParser(prog="score-service", description=__doc__)
    parser.add_argument("service", nargs="?", choices=SERVICES)
    parser.add_argument("--help-env", action="store_true",
                        help="list the environment variables a service reads")
    args = parser.parse_args(argv)
    if args.help_env or not args.service:
        for var in ENV_VARS:
            default = f" (default: {var.default})" if var.default else ""
            print(f"{var.name}\n    {var.help}{default}")
        return 0

    import eventlet

    eventlet.monkey_patch()

    from nameko.cli.run import run

    from score_common.observability import logging_config

    try:
        config = service_config(args.service)
    except ConfigError as exc:
        print(f"score-service: {exc}", file=sys.stderr)
        return 2
    config["LOGGING"] = logging_config(args.service, config["SCORE_LOG_LEVEL"],
                                       config["SCORE_LOG_FORMAT"])
    import logging.config

    logging.config.dictConfig(config["LOGGING"])
    run([service_class(args.service)], config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
