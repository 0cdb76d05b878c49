"""CTC enumeration: counts per standard blood volume and the patient-level CTC burden view."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from oncofactor.pseudobulk import VIEW_SEPARATOR

STANDARD_BLOOD_VOLUME_ML = 7.5


def ctc_per_standard_volume(ctc: pd.DataFrame) -> pd.DataFrame:
    """The enumeration table with ctc_per_7_5ml and clusters_per_7_5ml (counts scaled to 7.5 mL)."""
    table = ctc.copy()
    scale = STANDARD_BLOOD_VOLUME_ML / table["blood_volume_ml"].astype(float)
    table["ctc_per_7_5ml"] = table["ctc_count"].astype(float) * scale
    table["clusters_per_7_5ml"] = table["ctc_cluster_count"].astype(float) * scale
    return table


def ctc_view(ctc: pd.DataFrame) -> ad.AnnData | None:
    """ctc: per patient, log1p(CTCs per 7.5 mL) and log1p(clusters per 7.5 mL) at each timepoint, and
    the change of log burden from the first timepoint (in table order) to each later one."""
    if ctc.empty:
        return None
    table = ctc_per_standard_volume(ctc)
    order = list(dict.fromkeys(table["timepoint"]))
    burden = np.log1p(table.pivot(index="patient_id", columns="timepoint", values="ctc_per_7_5ml"))[order]
    clusters = np.log1p(table.pivot(index="patient_id", columns="timepoint", values="clusters_per_7_5ml"))[order]
    features = {f"burden_{t}": burden[t] for t in order}
    features |= {f"clusters_{t}": clusters[t] for t in order if clusters[t].notna().any()}
    features |= {f"change_{t}_vs_{order[0]}": burden[t] - burden[order[0]] for t in order[1:]}
    frame = pd.DataFrame(features)
    var = pd.DataFrame(index=[f"ctc{VIEW_SEPARATOR}{c}" for c in frame.columns])
    view = ad.AnnData(X=frame.to_numpy(dtype=np.float32), obs=pd.DataFrame(index=frame.index.astype(str)), var=var)
    view.uns["modality"] = "ctc_enumeration"
    return view
