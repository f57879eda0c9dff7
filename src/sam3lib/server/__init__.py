"""``sam3lib serve``: SAM 3 over HTTP (FastAPI), installed with the ``server`` extra.

A thin layer over one shared :class:`~sam3lib.Segmenter`: it translates HTTP requests into
``Segmenter.segment``, ``predict`` and ``generate`` calls and results into JSON, and holds no
model logic.

- :mod:`~sam3lib.server.app`: the FastAPI application (``create_app``);
- :mod:`~sam3lib.server.requests`, :mod:`~sam3lib.server.interactive_requests`,
  :mod:`~sam3lib.server.images`: reading request bodies;
- :mod:`~sam3lib.server.responses`: results as JSON, masks as RLE, polygons or PNG;
- :mod:`~sam3lib.server.gate`: the bounded queue in front of the model;
- :mod:`~sam3lib.server.access`: the optional API key and CORS;
- :mod:`~sam3lib.server.limits`, :mod:`~sam3lib.server.errors`, :mod:`~sam3lib.server.jsonlog`;
- :mod:`~sam3lib.server.command`: the command line.

Nothing here is imported by ``import sam3lib``: fastapi and uvicorn are needed only to serve.
"""
