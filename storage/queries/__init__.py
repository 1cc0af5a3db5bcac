"""Read queries by area, each returning typed views (``storage.views``); plain SQL."""
