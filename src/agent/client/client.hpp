// The agent's command-line clients: `tend submit`, `tend jobs`, `tend logs`, `tend cancel`,
// `tend rm`.
// Address and token: --addr/--token, else TEND_ADDR/TEND_TOKEN, else 127.0.0.1:8600 and the
// token in ./tend-data/token. Exit statuses: 0 done, 1 the job does not exist or has ended,
// 125 the client itself failed (bad option, agent unreachable); `submit --wait`: the job's own.
#pragma once

namespace tend::agent {

int submit_main(int argc, char** argv);
int jobs_main(int argc, char** argv);
int logs_main(int argc, char** argv);
int cancel_main(int argc, char** argv);
int rm_main(int argc, char** argv);
// `tend machines`: GET /v1/machines of a tend server.
int machines_main(int argc, char** argv);

}  // namespace tend::agent
