"""Loading and checking the workflow configuration (workflow/schemas/config.schema.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml

from oncofactor.schemas import load_schema, validate_with_defaults


# Views the workflow builds itself; an extra view may not take their names (see oncofactor.views).
RESERVED_VIEW_NAMES = {"rna_composition", "spatial", "spatial_pattern", "ctc", "ctc_rna"}


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every violation, one line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


def _key_path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def check_config(config: dict, source: str = "config") -> dict:
    """Validate a config mapping and return a copy with every default filled in.

    Raises ConfigError listing all problems, each naming the key (e.g. ``clinical.numeric[1]``).
    """
    if not isinstance(config, dict):
        raise ConfigError(source, ["the configuration must be a mapping of keys to values"])
    filled, errors = validate_with_defaults(config, load_schema("config"))
    if errors:
        raise ConfigError(source, [f"key '{_key_path(e.absolute_path)}': {e.message}" for e in errors])
    problems = []
    if not (filled["samples"] or filled["ctc"]["enumeration"] or filled["extra_views"]):
        problems.append("the config names no data: set samples, ctc.enumeration or extra_views")
    clinical = filled["clinical"]
    covariates = set(clinical["categorical"]) | set(clinical["numeric"])
    for index, column in enumerate(clinical["survival_adjust_for"]):
        if column not in covariates:
            problems.append(
                f"key 'clinical.survival_adjust_for[{index}]': '{column}' is not a covariate; "
                "list it in clinical.categorical or clinical.numeric too"
            )
    if clinical["survival_adjust_for"] and not (clinical["survival_time"] and clinical["survival_event"]):
        problems.append("key 'clinical.survival_adjust_for': set clinical.survival_time and clinical.survival_event, or leave it empty")
    if filled["mofa"]["batch_correction"] == "groups" and filled["views"]["group_column"]:
        problems.append(
            "key 'mofa.batch_correction': 'groups' makes the batches MOFA's groups, but views.group_column "
            f"('{filled['views']['group_column']}') already sets them; choose one"
        )
    names = [view["name"] for view in filled["extra_views"]]
    for index, name in enumerate(names):
        if name in RESERVED_VIEW_NAMES:
            problems.append(f"key 'extra_views[{index}].name': '{name}' is the name of a view the workflow builds; choose another")
        elif name in names[:index]:
            problems.append(f"key 'extra_views[{index}].name': '{name}' is used by an earlier extra view; names must be unique")
    if problems:
        raise ConfigError(source, problems)
    return filled


def named_tables(config: dict) -> list[str]:
    """The tables a checked config names: sample sheet, clinical table, CTC enumeration, extra views
    (those it names, in that order)."""
    tables = [config["samples"], config["clinical"]["path"], config["ctc"]["enumeration"]]
    return [table for table in tables if table] + [view["path"] for view in config["extra_views"]]


def load_config(path: str | Path) -> dict:
    """Read a YAML config file and check it (see `check_config`)."""
    path = Path(path)
    try:
        with path.open() as handle:
            config = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), ["is a folder; give the config's YAML file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot be read ({error})"]) from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"not valid YAML: {error}"]) from None
    return check_config(config if config is not None else {}, source=str(path))
