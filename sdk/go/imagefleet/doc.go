// Families of multi-platform container images built natively on BuildKit hosts, with a registry cache across commits.
package imagefleet
