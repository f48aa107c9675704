"""The nvidia-cdi-refresh units and env file of the stand-in toolkit base package (1.18+):
TEST FIXTURES modelled on NVIDIA's, not NVIDIA's files. ``gpu_docker.lab.standin`` fills
their placeholders and installs them where each release puts them."""
