rule build_digits:
    output:
        "resources/digits/data.npz",
    log:
        "logs/build_digits/data.log",
    benchmark:
        "benchmarks/build_digits/data.tsv"
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/build_digits.py"


rule define_digits_forget_set:
    input:
        "resources/digits/data.npz",
    output:
        "resources/digits/local/forget_sets/digits/forget_set_{forget_set}.npy",
    log:
        "logs/define_digits_forget_set/forget_set_{forget_set}.log",
    benchmark:
        "benchmarks/define_digits_forget_set/forget_set_{forget_set}.tsv"
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/define_digits_forget_set.py"


# On a cluster these run on the login node: the digits take a second, and
# compute nodes often have no internet for CIFAR-10.
localrules:
    build_digits,
    define_digits_forget_set,
    download_cifar10,


rule download_cifar10:
    output:
        directory(config["cifar10_dir"]),
    log:
        "logs/download_cifar10/cifar10.log",
    benchmark:
        "benchmarks/download_cifar10/cifar10.tsv"
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/download_cifar10.py"
