"""matplotlib for the tools' figures: the file-only Agg backend, so no display is needed."""


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
