"""The data layer: NumPy and Pillow, no web stack. One sub-package a concern, each importing
only what it needs:

    mnist/       MNIST itself: the four IDX files (idx.py) or OpenML (openml.py), the validation split.
    imaging/     Images as the network sees them: the one `preprocess` every path uses, previews, heatmaps.
    synth/       Data the project makes itself: rendered digits and non-digits, training augmentation.
    corrections/ The corrections users send: their store (SQLite or PostgreSQL) and the data set read from it.
"""
