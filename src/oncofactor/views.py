"""The cohort's patient-level views as one MuData (patients as observations), its tidy table and the
coverage of patients by modality. The views themselves come from oncofactor.pseudobulk (count views,
cell-type composition), oncofactor.spatial_pattern, oncofactor.ctc_burden and the config's extra views.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.batch_confounding import batch_shares
from oncofactor.ctc_burden import ctc_view
from oncofactor.notices import LEFT_OUT, Notice
from oncofactor.pseudobulk import VIEW_SEPARATOR, composition_view, count_views
from oncofactor.spatial_pattern import spatial_pattern_view

logger = logging.getLogger(__name__)


def extra_view(view: dict) -> ad.AnnData:
    """A config extra view as patients x features (numbers; empty cells missing)."""
    from oncofactor.user_tables import read_table_as_text

    table = read_table_as_text(view["path"])
    if view["orientation"] == "samples_by_features":
        table = table.set_index(view["id_column"] or table.columns[0])
    else:
        table = table.set_index(table.columns[0]).T
    values = table.apply(lambda column: pd.to_numeric(column.str.strip(), errors="raise"))
    var = pd.DataFrame(index=[f"{view['name']}{VIEW_SEPARATOR}{c}" for c in values.columns])
    obs = pd.DataFrame(index=pd.Index([str(i).strip() for i in values.index]))
    adata = ad.AnnData(X=values.to_numpy(dtype=np.float32), obs=obs, var=var)
    adata.uns["likelihood"] = view["likelihood"]
    adata.uns["modality"] = "extra"
    return adata


VIEW_COLUMNS = ["sample", "group", "view", "feature", "value"]


SAMPLE_MODALITIES = ("scrna", "spatial", "ctc_scrna")


def build_views(
    pseudobulks: list[ad.AnnData],
    patterns: pd.DataFrame,
    ctc: pd.DataFrame | None,
    clinical: pd.DataFrame,
    samples: pd.DataFrame,
    config: dict,
):
    """All patient-level views as one MuData: patients as observations (the union over views, a
    patient missing from a view is missing there), clinical covariates, `group` (`patient_groups`),
    and per modality the technical batches of the patient's samples with a profile: their labels in
    obs (`batch_scrna`, ...; comma-separated when a patient's samples span batches) and the share of
    the patient's samples in each batch in obsm (same keys; patients x batches).

    pseudobulks: each sample's `sample_pseudobulk`, over its own genes. Each view's uns['likelihood']
    says how MOFA should model it (gaussian unless an extra view says otherwise) and uns['modality']
    what it was built from (scrna, spatial, ctc_scrna, ctc_enumeration, extra). Returns the MuData,
    the view gene table (oncofactor.pseudobulk.VIEW_GENE_COLUMNS) and the notices of views left out
    and samples measuring few of their view's genes.
    """
    import mudata

    mudata.set_options(pull_on_update=False)
    settings = config["views"]
    views, view_genes, notices = count_views(pseudobulks, settings)
    for name, view in (
        ("rna_composition", composition_view(pseudobulks)),
        ("spatial_pattern", spatial_pattern_view(patterns, settings["spatial_pattern_genes"])),
        ("ctc", ctc_view(ctc) if ctc is not None else None),
    ):
        if view is not None and view.n_obs >= settings["min_patients"]:
            views[name] = view
        elif view is not None:
            notices.append(Notice(
                "views", "view", name, LEFT_OUT, f"{view.n_obs} patients (needs views.min_patients = {settings['min_patients']})",
                "lower views.min_patients, or add patients with this kind of data",
            ))
    for extra in config["extra_views"]:
        views[extra["name"]] = extra_view(extra)
    for notice in notices:
        logger.warning("%s", notice)
    if not views:
        reasons = "; ".join(str(n) for n in notices if n.outcome == LEFT_OUT) or "no sample gave a profile"
        raise ValueError(f"no view has enough patients and features ({reasons}); see the views settings")
    for view in views.values():
        view.uns.setdefault("likelihood", "gaussian")
    order = sorted(views, key=lambda name: MODALITY_ORDER.index(views[name].uns["modality"]))
    mdata = mudata.MuData({name: views[name] for name in order})
    mdata = mdata[sorted(mdata.obs_names)].copy()
    covariates = clinical.set_index("patient_id").reindex(mdata.obs_names)
    for column in covariates.columns:
        mdata.obs[column] = covariates[column].to_numpy()
    profiled = {str(s) for p in pseudobulks for s in p.obs["sample_id"]}
    used = samples[samples["sample_id"].isin(profiled) | ~samples["modality"].isin(SAMPLE_MODALITIES)]
    for modality, shares in batch_shares(used).items():
        labels = shares.apply(lambda row: ",".join(str(batch) for batch in row.index[row > 0]), axis=1)
        mdata.obs[f"batch_{modality}"] = labels.reindex(mdata.obs_names).to_numpy()
        mdata.obsm[f"batch_{modality}"] = shares.reindex(mdata.obs_names)
    mdata.obs["group"] = patient_groups(mdata.obs, covariates, config)
    for column in mdata.obs.columns[mdata.obs.dtypes == object]:  # as mudata would on writing, without its log lines
        mdata.obs[column] = mdata.obs[column].astype("category")
    return mdata, view_genes, notices


MODALITY_ORDER = ("scrna", "spatial", "ctc_scrna", "ctc_enumeration", "extra")


# mofapy2 centres each group's features on the group's mean: a patient alone in its group is set to
# zero and a group of two loses half its spread.
MIN_GROUP_PATIENTS = 5


def patient_groups(obs: pd.DataFrame, covariates: pd.DataFrame, config: dict) -> np.ndarray:
    """MOFA's group of each patient: the clinical column views.group_column when set; with
    mofa.batch_correction 'groups', the batch of the patient's samples of mofa.batch_groups_modality
    ('run1', or 'run1+run2' for a patient whose samples span two; a patient without such a sample
    joins the largest group, which only sets how its other views are centred); else one group,
    'all'. Raises ValueError naming any batch group of fewer than MIN_GROUP_PATIENTS patients."""
    group_column = config["views"]["group_column"]
    if group_column:
        return covariates[group_column].astype(str).to_numpy()
    if config["mofa"]["batch_correction"] != "groups":
        return np.full(len(obs), "all", dtype=object)
    modality = config["mofa"]["batch_groups_modality"]
    column = f"batch_{modality}"
    labels = obs[column].astype(object) if column in obs.columns else pd.Series(np.nan, index=obs.index, dtype=object)
    labels = labels.map(lambda value: "+".join(sorted(str(value).split(","))) if pd.notna(value) else np.nan)
    if labels.isna().all():
        raise ValueError(f"mofa.batch_correction: groups needs batches of {modality} samples (mofa.batch_groups_modality); the sample sheet gives none")
    sizes = labels.value_counts()
    small = sizes[sizes < MIN_GROUP_PATIENTS]
    if len(small):
        listing = ", ".join(f"'{name}' ({count})" for name, count in small.items())
        raise ValueError(
            f"mofa.batch_correction: groups makes the {modality} batches MOFA's groups, but group(s) {listing} have fewer than "
            f"{MIN_GROUP_PATIENTS} patients, and MOFA centres each group on its own mean; merge batches in the sample sheet, "
            "or use mofa.batch_correction: regress"
        )
    return labels.fillna(sizes.index[0]).to_numpy(dtype=object)


def views_long(mdata) -> pd.DataFrame:
    """The views as one tidy table (sample, group, view, feature, value), missing values left out;
    features without their view prefix. Ordered by view, feature, then sample as in the MuData."""
    parts = []
    for name, view in mdata.mod.items():
        values = view.X.toarray() if sp.issparse(view.X) else np.asarray(view.X)
        features = [f[len(name) + 1 :] if f.startswith(name + VIEW_SEPARATOR) else f for f in view.var_names]
        frame = pd.DataFrame(values, index=view.obs_names, columns=features)
        frame = frame.rename_axis(index="sample", columns="feature").T.stack().rename("value").reset_index()
        frame.insert(0, "view", name)
        frame["group"] = mdata.obs.loc[frame["sample"], "group"].to_numpy()
        parts.append(frame.dropna(subset=["value"]))
    table = pd.concat(parts, ignore_index=True)
    table["value"] = table["value"].astype(float)
    return table[VIEW_COLUMNS]


def coverage(samples: pd.DataFrame, pseudobulks: list[ad.AnnData], ctc: pd.DataFrame | None, mdata) -> pd.DataFrame:
    """Per patient and modality: present, samples, observations kept after QC (cells, spots, CTCs or
    blood draws) in the samples' profiles, and the views the patient is in."""
    patients = sorted(set(samples["patient_id"]) | set(mdata.obs_names) | (set(ctc["patient_id"]) if ctc is not None else set()))
    profiles = pd.concat([p.obs for p in pseudobulks]) if pseudobulks else pd.DataFrame(columns=["patient_id", "modality", "n_cells"])
    observations = profiles.groupby(["patient_id", "modality"], observed=True)["n_cells"].sum()
    n_samples = samples.groupby(["patient_id", "modality"]).size()
    rows = []
    for patient in patients:
        for modality in SAMPLE_MODALITIES:
            count = int(n_samples.get((patient, modality), 0))
            rows.append((patient, modality, count > 0, count, int(observations.get((patient, modality), 0))))
        draws = int((ctc["patient_id"] == patient).sum()) if ctc is not None else 0
        rows.append((patient, "ctc_enumeration", draws > 0, 0, draws))
    table = pd.DataFrame(rows, columns=["patient_id", "modality", "present", "n_samples", "n_observations"])
    in_views = {p: ",".join(name for name, view in mdata.mod.items() if p in view.obs_names) for p in patients}
    table["views"] = table["patient_id"].map(in_views)
    return table
