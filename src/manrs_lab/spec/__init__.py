"""Files on disk (containerlab topologies, lab specs) loaded into typed models."""
