"""Fitted recommenders (what recommends, saves and loads): low in the import graph, so the bundle, the
server and batch prediction read them without the search or training code."""
