#include "nusky/event.hpp"

#include "nusky/error.hpp"
#include "nusky/mpi.hpp"

namespace nusky {

namespace {

template <class F>
void for_each_column(Events& e, F&& f)
{
    for (auto* col : {&e.ra, &e.dec, &e.sigma, &e.log10_energy, &e.x, &e.y, &e.z, &e.mjd,
                      &e.true_ra, &e.true_dec, &e.true_energy, &e.oneweight}) {
        f(*col);
    }
    for (auto& [name, col] : e.extra) f(col);
}

template <class F>
void for_each_column_pair(Events& a, const Events& b, F&& f)
{
    Events& bb = const_cast<Events&>(b);
    std::vector<Eigen::ArrayXd*> ca, cb;
    for_each_column(a, [&](Eigen::ArrayXd& c) { ca.push_back(&c); });
    for_each_column(bb, [&](Eigen::ArrayXd& c) { cb.push_back(&c); });
    if (ca.size() != cb.size()) throw Error("events: the two samples have different extra columns");
    for (std::size_t i = 0; i < ca.size(); ++i) f(*ca[i], *cb[i]);
}

}  // namespace

void Events::resize(Eigen::Index n, bool with_mjd, bool with_truth)
{
    for (auto* col : {&ra, &dec, &sigma, &log10_energy, &x, &y, &z}) col->resize(n);
    mjd.resize(with_mjd ? n : 0);
    for (auto* col : {&true_ra, &true_dec, &true_energy, &oneweight}) col->resize(with_truth ? n : 0);
}

void Events::compute_unit_vectors()
{
    Eigen::ArrayXd cos_dec = dec.cos();
    x = cos_dec * ra.cos();
    y = cos_dec * ra.sin();
    z = dec.sin();
}

void Events::keep(const std::vector<char>& mask)
{
    const Eigen::Index n = size();
    for_each_column(*this, [&](Eigen::ArrayXd& col) {
        if (col.size() != n) return;  // absent optional column
        Eigen::Index out = 0;
        for (Eigen::Index i = 0; i < n; ++i) {
            if (mask[static_cast<std::size_t>(i)]) col[out++] = col[i];
        }
        col.conservativeResize(out);
    });
}

void Events::append(const Events& other)
{
    for_each_column_pair(*this, other, [](Eigen::ArrayXd& mine, const Eigen::ArrayXd& theirs) {
        if (theirs.size() == 0) return;
        Eigen::Index old = mine.size();
        mine.conservativeResize(old + theirs.size());
        mine.tail(theirs.size()) = theirs;
    });
}

Events Events::allgather(const Comm& comm) const
{
    Events all = *this;
    for_each_column(all, [&](Eigen::ArrayXd& col) {
        std::vector<double> local(col.data(), col.data() + col.size());
        // Every rank must take part even when a column is empty here.
        auto gathered = comm.allgather(local);
        col = Eigen::Map<Eigen::ArrayXd>(gathered.data(), static_cast<Eigen::Index>(gathered.size()));
    });
    return all;
}

}  // namespace nusky
