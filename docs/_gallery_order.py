"""The order of the gallery's examples: a first contact first, the command line last."""

ORDER = [
    "quickstart.py",
    "plot_grid_search.py",
    "plot_conditional_sampling.py",
    "plot_evaluation_report.py",
    "plot_gpu.py",
    "command_line.py",
]


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: ORDER, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return (ORDER.index(filename) if filename in ORDER else len(ORDER), filename)
