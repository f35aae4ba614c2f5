"""The networks, and nothing else: each family's ``torch.nn.Module`` and the common model-file format.

- :mod:`~glassdyn.models.interaction_network`: the encoder–process–decoder
  network of NT-GNN and BOTAN (SCIENCE.md §6);
- :mod:`~glassdyn.models.tglassmlp`: the transferable GlassMLP;
- :mod:`~glassdyn.models.ogn`: the OGN learned simulator;
- :mod:`~glassdyn.models.device`: torch device and precision;
- :mod:`~glassdyn.models.files`: one model-file format for every family.

Which names the campaign knows, and which network each one builds, is the
registry :mod:`glassdyn.config.families`.
"""
