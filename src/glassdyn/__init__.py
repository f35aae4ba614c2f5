"""glassdyn: predicting glassy dynamics from static structure, as a workflow.

Modules, one concept each:
    config      campaign configuration, schema validation, seeds
    storage     atomic HDF5/JSON/CSV writing and named read errors
    potential   the Kob–Andersen pair potential (numpy/torch)
    md          LAMMPS runs: equilibration and iso-configurational replicas
    neighbors   periodic neighbour search (scipy cKDTree), minimum image
    labels      propensity, pair-distance change, bond breaking, F_s, MSD, chi4
    graphs      particle graphs for the networks
    models      NT-GNN / BOTAN interaction network (and later models)
    training    training loops (single process or DDP), checkpoints
    evaluation  Pearson metrics on test configurations
    report      tables and figures of the campaign
    inherent    inherent structures (LAMMPS minimisation), per-particle energy, Voronoi cells
    descriptors tGlassMLP's coarse-grained structural descriptors (all periodic images)
    tglassmlp   tGlassMLP state points, training, prediction, evaluation
    transfer    tGlassMLP two-step training (equal-time networks, distillation), transferability test
    heterogeneity  chi4, S4(q) and xi4, chord lengths, attention length of a propensity field
    tglassmlp_analysis  tGlassMLP analyses as report figures, large systems for S4
    cli         the ``glassdyn`` command the workflow rules call
"""
__version__ = "0.1.0"
