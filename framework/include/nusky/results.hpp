#pragma once
// What a run produces, before it is written: groups ("/fit", "/selection", "/trials", ...) of
// scalar attributes and 1-D datasets. A dataset holds this rank's block and its global place,
// so the aggregation stage can write every rank's part collectively into one file.
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace nusky {

class Comm;

using AttributeValue = std::variant<double, std::int64_t, std::string>;

struct Dataset {
    std::variant<std::vector<double>, std::vector<std::int64_t>, std::vector<std::string>> local;
    std::int64_t offset = 0;       // global index of local[0]
    std::int64_t global_size = 0;  // length of the whole dataset
    std::map<std::string, AttributeValue> attributes;
};

struct ResultGroup {
    std::map<std::string, AttributeValue> attributes;
    std::map<std::string, Dataset> datasets;
};

class Results {
public:
    std::map<std::string, AttributeValue> root_attributes;
    std::map<std::string, ResultGroup> groups;  // key: absolute path, e.g. "/fit"

    ResultGroup& group(const std::string& path) { return groups[path]; }

    // A dataset every rank holds in full (rank 0 writes it).
    template <class T>
    void set_replicated(const std::string& group_path, const std::string& name,
                        const std::vector<T>& values, const Comm& comm);
    // A dataset split over ranks in rank order; offsets come from a prefix sum.
    template <class T>
    void set_distributed(const std::string& group_path, const std::string& name,
                         const std::vector<T>& local_block, const Comm& comm);
};

}  // namespace nusky
