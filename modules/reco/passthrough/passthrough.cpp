// Reco adapter `passthrough`: the reader's columns are already canonical.
#include "nusky/registry.hpp"
#include "nusky/stages.hpp"

namespace nusky {
namespace {

class Passthrough : public RecoAdapter {
public:
    void adapt(Events&, RunContext&) override {}
};

}  // namespace

NUSKY_REGISTER_MODULE(reco, Passthrough, "passthrough", "uses the reader's columns unchanged")

}  // namespace nusky
