"""The whalesay steps of the input-parameter and concurrency goldens."""
import couler.argo as couler


def whalesay(*words):
    return couler.run_container(image="docker/whalesay", command=["cowsay"], args=list(words))


def whalesay_two(a, b):
    return couler.run_container(image="docker/whalesay", command=["cowsay"], args=[a, b])


def bash_cowsay(words):
    return couler.run_container(image="docker/whalesay", command=["bash", "-c", "cowsay"],
                                args=[words])
