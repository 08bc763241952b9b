"""The face pipeline: read -> detect -> align -> swap -> paste back -> write, for photos and video.

Modules: ``io`` (decode, modes, EXIF, atomic writes, provenance), ``detect`` (detector
components), ``align`` (templates as data, similarity transforms, warping), ``blend``
(paste-back), ``recognize`` (face descriptors for reference matching), ``swapper``
(``FaceSwapper``), ``video`` (PyAV decode/encode with audio).
"""
