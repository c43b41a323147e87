"""Lesson data modules: inline tables (XOR, AND, linear, scores) and labelled CSVs (heart)."""

from experiments.data.csv import CsvDataModule
from experiments.data.table import TableDataModule

__all__ = ["CsvDataModule", "TableDataModule"]
