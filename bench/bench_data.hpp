#pragma once
// The samples the kernels run on, built once per process:
//  - the simulated 10-year cascade sky of modules/readers/simulation (seed 2023: 59,592
//    background + ~670 signal events, as `nusky run` with the simulation reader), with its MC
//    set (NUSKY_BENCH_MC events, default 1,000,000 as the reader's default);
//  - the IC40 tracks of data/ic40 (36,900 events, no MC: the fit is spatial only).
#include "likelihood/point_source/point_source.hpp"
#include "likelihood/template/template_likelihood.hpp"
#include "nusky/event.hpp"
#include "nusky/mpi.hpp"

namespace nusky::bench {

const Comm& world();
const Events& cascades();
const Events& cascade_mc();
const Events& ic40();

const PointSourcePdfs& cascade_ps_pdfs();
const PointSourcePdfs& ic40_ps_pdfs();
const TemplatePdfs& cascade_template_pdfs();

// Source positions of the point-source kernels: the Galactic centre for cascades (as the e2e
// test), TXS 0506+056 for the IC40 tracks.
UnitVector cascade_source();
UnitVector ic40_source();

}  // namespace nusky::bench
