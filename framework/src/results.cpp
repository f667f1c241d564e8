#include "nusky/results.hpp"

#include "nusky/mpi.hpp"

namespace nusky {

template <class T>
void Results::set_replicated(const std::string& group_path, const std::string& name,
                             const std::vector<T>& values, const Comm& comm)
{
    Dataset d;
    d.global_size = static_cast<std::int64_t>(values.size());
    d.offset = 0;
    d.local = comm.is_root() ? values : std::vector<T>{};
    group(group_path).datasets[name] = std::move(d);
}

template <class T>
void Results::set_distributed(const std::string& group_path, const std::string& name,
                              const std::vector<T>& local_block, const Comm& comm)
{
    Dataset d;
    auto n = static_cast<std::int64_t>(local_block.size());
    d.offset = comm.exclusive_prefix(n);
    d.global_size = comm.sum(n);
    d.local = local_block;
    group(group_path).datasets[name] = std::move(d);
}

template void Results::set_replicated(const std::string&, const std::string&,
                                      const std::vector<double>&, const Comm&);
template void Results::set_replicated(const std::string&, const std::string&,
                                      const std::vector<std::int64_t>&, const Comm&);
template void Results::set_replicated(const std::string&, const std::string&,
                                      const std::vector<std::string>&, const Comm&);
template void Results::set_distributed(const std::string&, const std::string&,
                                       const std::vector<double>&, const Comm&);
template void Results::set_distributed(const std::string&, const std::string&,
                                       const std::vector<std::int64_t>&, const Comm&);

}  // namespace nusky
