"""Map the top-level folders into the ``mixforge`` namespace (see DESIGN.md).

``hw/`` -> ``mixforge.hw``, ``sim/`` -> ``mixforge.sim``, ... Sub-packages are discovered, so a
new folder with an ``__init__.py`` needs no edit here (re-run the install for a strict editable).
"""

from setuptools import find_packages, setup

FOLDERS = {"hw": "mixforge.hw", "sim": "mixforge.sim", "models": "mixforge.models",
           "workloads": "mixforge.workloads", "reports": "mixforge.reports"}

packages = ["mixforge"] + [f"mixforge.{p}" for p in find_packages("mixforge")]
package_dir = {"mixforge": "mixforge"}
for folder, name in FOLDERS.items():
    packages.append(name)
    packages += [f"{name}.{p}" for p in find_packages(folder)]
    package_dir[name] = folder

setup(packages=packages, package_dir=package_dir)
