"""augablate: measure what each image augmentation does to a CNN (a Snakemake workflow)."""

__version__ = "0.1.0"
