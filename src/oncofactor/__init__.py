"""oncofactor: multi-modal factor analysis of cancer cohorts.

Importable steps of the Snakemake workflow: input validation, the example-cohort simulator and,
in later modules, harmonization, MOFA+ integration and clinical association.
"""

__version__ = "0.1.0"
