"""gpulens: a real-time web dashboard for NVIDIA GPU workstations."""

# The one place the version is written: the wheel's metadata (hatchling reads
# it from here), `gpulens --version`, /api/config, hello and the page.
__version__ = "0.1.0"
