# oncofactor in a container, installed from the same requirements.lock as `make run`.
#   docker build -t oncofactor .
#   docker run --rm -v "$PWD":/data oncofactor --cores all --configfile config.yaml
# Apptainer on HPC: apptainer build oncofactor.sif docker-daemon://oncofactor:latest
FROM python:3.11.7-slim-bookworm

WORKDIR /opt/oncofactor
COPY requirements.lock pyproject.toml README.md ./
COPY src ./src
RUN python -m pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps -r requirements.lock \
    && python -m pip install --no-cache-dir --disable-pip-version-check --no-deps .
COPY Snakefile ./
COPY workflow ./workflow
COPY config ./config
COPY envs ./envs

WORKDIR /data
ENTRYPOINT ["snakemake", "--snakefile", "/opt/oncofactor/Snakefile"]
