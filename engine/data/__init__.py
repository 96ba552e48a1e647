"""The data layer: the Dataset and its sparse matrices, the per-user split, the loaders
(DiffRec npy folders, RecBole atomic files, CSV, synthetic data), RecBole's filters."""
