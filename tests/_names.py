"""Names shared by test modules (import as ``from _names import DATASET_NAMES``)."""

DATASET_NAMES = ("abalone", "adult", "ionosphere", "lending_club", "mushroom", "news", "sonar")
