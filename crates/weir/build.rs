//! Links the `weir` binary to the same libpython PyO3 built against: the library directory
//! of `$PYO3_PYTHON` (or `python3` on the PATH, as PyO3 chooses) goes into the binary's
//! run path. Without it the system's loader may pick another Python 3.11 (say, the
//! distribution's) whose site-packages lack what the user installed with that `python3`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let output = Command::new(&python).args(["-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')"]).output();
    match output {
        Ok(out) if out.status.success() => {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !dir.is_empty() {
                println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{dir}");
            }
        }
        _ => println!("cargo:warning=could not ask '{python}' for its library directory; libpython is found by the system loader"),
    }
}
