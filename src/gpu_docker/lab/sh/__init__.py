"""Shell of the stand-in packages (TEST FIXTURES, not NVIDIA's): their programs and
maintainer scripts, one file each so shellcheck reads them (``scripts/test.sh``).

``gpu_docker.lab.standin`` fills the ``@VERSION@``-style placeholders when it builds a
package; nothing here runs on the controller.
"""
