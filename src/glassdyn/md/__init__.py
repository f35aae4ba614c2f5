"""Molecular dynamics of the Kob–Andersen mixture with LAMMPS (SCIENCE.md §1–3).

One module per product:

* :mod:`~glassdyn.md.equilibrate` — rule ``equilibrate``: random placement,
  minimisation, Nosé–Hoover hold at ``T_high``, linear quench, Nosé–Hoover hold
  at T for ``hold_tau_alpha`` τα → ``equilibrated.h5``.
* :mod:`~glassdyn.md.replicas` — rule ``replicas``: R NVE runs from the
  equilibrated frame with fresh Maxwell–Boltzmann velocities, sampled
  (unwrapped) at the rounded sampling times → ``replicas.h5``.
* :mod:`~glassdyn.md.inherent` — rule ``inherent``: the energy-minimised
  frame with per-particle energies and Voronoi cells.
* :mod:`~glassdyn.md.deck` — ``glassdyn md-deck``: the equivalent plain LAMMPS deck.

Shared machinery: :mod:`~glassdyn.md.engine` (LAMMPS), :mod:`~glassdyn.md.checkpoint`
(restart segments), :mod:`~glassdyn.md.parallel` (MPI/OpenMP), :mod:`~glassdyn.md.native`
(the native libraries). The protocol's numbers are :mod:`glassdyn.physics.protocol`.
"""
