"""Steps A-D of the DAG goldens, shared by their programs."""
import couler.argo as couler


def cowsay(name):
    return couler.run_container(image="docker/whalesay:latest", command=["cowsay"], args=[name],
                                step_name=name)
